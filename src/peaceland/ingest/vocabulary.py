"""What simulated drones hear and see: a calm and an agitated vocabulary, and the first
and last names citizens are given."""

from __future__ import annotations


def _split(text: str) -> tuple[str, ...]:
    """Whitespace-separated words, duplicates dropped, first occurrence order kept."""
    return tuple(dict.fromkeys(text.split()))


CALM_WORDS: tuple[str, ...] = _split(
    """
    hello thanks coffee weather sunny market bread football weekend family lunch dinner
    garden music school holiday train friends birthday park beach book cheese wine bicycle
    bakery cinema concert festival picnic museum library church wedding baby dog cat flowers
    rain tomorrow morning evening tea croissant news price work office bus metro ticket
    shopping doctor pharmacy walk river bridge square cafe terrace dessert vacation neighbour
    welcome please sorry goodbye lovely beautiful great nice smile laugh dance song game match
    goal team homework teacher grandma grandpa kids recipe soup salad harvest village
    """
)
AGITATED_WORDS: tuple[str, ...] = _split(
    """
    riot strike protest revolt angry rage fight barricade shout smash burn attack traitor
    uprising resist overthrow mob threat unrest boycott sabotage enemy revenge clash storm
    blockade march against down liar corrupt injustice scandal fury outrage rebel insurgent
    mutiny defy chaos destroy occupy
    """
)

_FIRST_NAMES = """
    Jean Marie Pierre Anne Louis Claire Paul Sophie Jacques Julie Michel Camille Nicolas
    Emma Thomas Lea Antoine Chloe Julien Manon Hugo Ines Lucas Sarah Leo Alice Gabriel Jade
    Arthur Louise Raphael Lina Adam Rose Nathan Ambre Ethan Zoe Tom Lucie Noah Mila Victor
    Eva Maxime Juliette Mathis Clara Theo Anna Samuel Margaux Yanis Lola Mohamed Nour Karim
    Yasmine Mehdi Amina Omar Leila Ali Fatima Sofiane Salome Bastien Elise Florian Agathe
    Quentin Pauline Romain Charlotte Alexandre Oceane Kevin Laura Jonathan Marion Sebastien
    Celine Olivier Nathalie Philippe Isabelle Patrick Sylvie Eric Valerie Laurent Sandrine
    Stephane Caroline Vincent Helene Francois Catherine Christophe Veronique David Martine
    Frederic Monique Alain Brigitte Bernard Nicole Daniel Christine Marc Francoise Andre
    Jeanne Henri Simone Georges Odette Marcel Yvette Rene Colette Lucien Paulette Emile Marthe
    Luca Giulia Marco Chiara Pablo Lucia Diego Carmen Jonas Hanna Lukas Lena Finn Mia Oskar
    Ingrid Sven Astrid Piotr Agnieszka Tomasz Ewa Ivan Olga Dmitri Irina Kofi Ama Kwame Aya
    Wei Mei Hiroshi Yuki Arjun Priya Ravi Ananya
"""
_LAST_NAMES = """
    Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel
    Lefebvre Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine
    Rousseau Vincent Muller Lefevre Faure Andre Mercier Blanc Guerin Boyer Garnier Chevalier
    Francois Legrand Gauthier Garcia Perrin Robin Clement Morin Nicolas Henry Roussel Mathieu
    Gautier Masson Marchand Duval Denis Dumont Marie Lemaire Noel Meyer Dufour Meunier Brun
    Blanchard Giraud Joly Riviere Lucas Brunet Gaillard Barbier Arnaud Martinez Gerard Roche
    Renard Schmitt Roy Leroux Colin Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud
    Dumas Lacroix Olivier Philippe Bourgeois Pierre Benoit Rey Leclerc Payet Rolland Leclercq
    Guillaume Lecomte Lopez Jean Dupuis Guillot Hubert Berger Carpentier Sanchez Dupuis Moulin
    Louis Deschamps Huet Vasseur Perez Boucher Fleury Royer Klein Jacquet Adam Paris Poirier
    Marty Aubry Guyot Carre Charles Renault Charpentier Menard Maillard Baron Bertin Bailly
    Herve Schneider Fernandez Collet Leger Bouvier Julien Prevost Millet Perrot Daniel Cousin
    Germain Breton Besson Langlois Remy Pelletier Leveque Perrier Leblanc Barre Lebrun
    Marchal Weber Mallet Hamon Boulanger Jacob Monnier Michaud Rodriguez Guichard Gillet
    Etienne Grondin Poulain Tessier Chevallier Collin Chauvin Bouvet Gay Lemaitre Benard
    Rossi Bianchi Schulz Wagner Becker Kowalski Nowak Ivanov Petrov Mensah Diallo Traore
    Diop Ndiaye Haddad Benali Khalil Nguyen Tran Chen Wang Tanaka Sato Sharma Patel Silva
"""
FIRST_NAMES: tuple[str, ...] = _split(_FIRST_NAMES)
LAST_NAMES: tuple[str, ...] = _split(_LAST_NAMES)
INITIALS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
